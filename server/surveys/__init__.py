"""Satisfaction surveys (满意度调查): invitations and responses."""
