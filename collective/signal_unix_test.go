package collective

import "syscall"

var stopSignal = syscall.SIGSTOP
