"""Service records (履约记录) of what a team delivered, with readings."""
