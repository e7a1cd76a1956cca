"""Payment providers: the outside systems that move money, behind one small interface."""
