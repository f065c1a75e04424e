"""Files shipped with pipeviz (sample digits, icons)."""
