"""The local stack: the Firestore emulator, downstream stand-ins and the dev runner."""
