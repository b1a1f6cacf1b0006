"""The `turnout bench` and `turnout chaos` commands, each in its own module, added to the
`turnout` parser by `turnout_devtools.plugin`."""
