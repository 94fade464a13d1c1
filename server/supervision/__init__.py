"""Fund supervision (基金监管): alerts for fake patients, conditions and services, and cases.

Only the tables exist yet, with the alerts two use cases raise (a disputed service, a benefit
paid twice); no service hunts for fake patients, conditions or services or works a case.
"""
