/* The team console: see README, "The team console". */
