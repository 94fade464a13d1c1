"""Family-doctor teams (签约团队), medical staff and their memberships."""
