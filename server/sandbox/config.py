"""What a sandbox needs to know: the credentials it accepts and how it should behave."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from server.sandbox.keys import DevKeys


@dataclass(frozen=True)
class SandboxConfig:
    appid: str
    secret: str
    mchid: str
    apiv3_key: str
    keys: DevKeys
    insured_admdvs: str = "350600"  # where any valid ID number is insured unless told otherwise
    time_scale: float = 1.0  # multiplies notification retry delays and refund processing time
    # Which serial signs answers and notifications: the WeChat Pay public key's ID, or the
    # platform certificate's serial (as during a switch-over from certificates).
    sign_with: Literal["public_key", "certificate"] = "public_key"

    def signing_serial(self) -> str:
        if self.sign_with == "certificate":
            return self.keys.platform_cert_serial()
        return self.keys.platform_public_key_id
