"""Long-term prescriptions (长期处方), their drugs and dispensings."""
