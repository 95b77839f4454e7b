"""Training and evaluation of vidcolor's colourisers (not needed to colourise)."""
