"""Payment orders and refunds of the personal share (个人缴费) through WeChat Pay."""
