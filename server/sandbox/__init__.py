"""A loopback stand-in for WeChat, WeChat Pay v3 and the provincial insurance platform.

It speaks their real protocols (signatures, AES-GCM, message formats) so development,
demos and tests run the same client code as production, only with other base URLs.

Its own times (an order's deadline, when a payment or refund happened, the insurance
platform's today) come from the platform's clock in `server.common.timeutil`: the sandbox
is the outside world of our tests, and a test that pins the clock pins that world too.
Signature timestamps stay on real time, as the WeChat Pay SDK signs with it.
"""
