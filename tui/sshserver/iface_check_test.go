package sshserver

import (
	"gpcollections/store/scheduler"
	"gpcollections/tui/session"
)

// The server hands the real scheduler to screens as it is.
var _ session.Scheduler = (*scheduler.Scheduler)(nil)
