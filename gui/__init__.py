"""pipeviz's Qt front end: presents the core's state and steers its worker."""
