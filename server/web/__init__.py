"""What the HTTP blueprints share: auth, the error shape, paging schemas, base schemas."""
