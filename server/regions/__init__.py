"""Pooling regions (统筹地区) and their local rules (实施细则) as dated, versioned data."""
