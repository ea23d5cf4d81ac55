"""The engine: the session, its controllers, the reloader, and the events they emit."""
