"""The phone as a source: Sensor Logger (iOS, Android) by HTTP push, MQTT over websockets and exported recordings."""
