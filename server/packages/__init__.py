"""Service packages (服务包): versions and their items."""
