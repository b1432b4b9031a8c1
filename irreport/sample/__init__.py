"""The bundled sample incident and the generator that writes it."""
