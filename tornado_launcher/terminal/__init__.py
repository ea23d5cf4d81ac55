"""The launcher on a terminal: the headless session and its bounded output."""
