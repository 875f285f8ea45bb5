package main

import "gpcollections/tui"

// Every terminal session, over SSH or in `gpc tui`, gets the real screens.
func init() { screens = tui.New }
