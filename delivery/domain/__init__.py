"""Pure domain logic of food delivery: no I/O, no actors, no clock of its own."""
