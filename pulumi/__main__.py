"""`pulumi up` entry point; the program lives in hardstack.deploy so other repos can reuse it."""
from hardstack.deploy.program import program

program()
