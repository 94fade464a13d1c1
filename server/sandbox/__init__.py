"""A loopback stand-in for WeChat, WeChat Pay v3 and the provincial insurance platform.

It speaks their real protocols (signatures, AES-GCM, message formats) so development,
demos and tests run the same client code as production, only with other base URLs.
"""
