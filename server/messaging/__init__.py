"""Subscribe messages (订阅消息) to residents, with their refusals respected."""
