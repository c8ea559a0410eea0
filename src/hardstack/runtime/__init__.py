"""Running a layout on a real engine for `hardstack up`, `rotate` and `backup`: Compose (compose.py) and Swarm (swarm.py)."""
