"""Clinical knowledge as cited data files, and the loader that turns them into domain tables."""
