"""plutono-plugin: asyncio-native backend plugins for Plutono 7.5."""
