"""One module per plugin: acquisition (Resource), evaluation (Contexts), presentation
(Summary), parser. No check imports another check."""
