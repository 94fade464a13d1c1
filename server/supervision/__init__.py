"""Fund supervision (基金监管): alerts for fake patients, conditions and services, and cases."""
