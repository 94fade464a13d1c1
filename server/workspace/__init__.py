"""The family doctor's workspace read models: a team's patients with their care state (工作台)."""
