"""`pulumi up` here deploys this layout; the program is hardstack.deploy (pip install hardstack)."""
from hardstack.deploy.program import program

program()
