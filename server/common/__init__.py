"""Building blocks shared by every domain package: column types, time, money, PII, paging."""
