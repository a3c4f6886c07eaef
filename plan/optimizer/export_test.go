package optimizer

// SetBoundSwitches lets the external tests cross-check the exact solver with bounds disabled.
func SetBoundSwitches(noLP, noMemo bool) { debugNoLP, debugNoMemo = noLP, noMemo }
