package totemtest

import "github.com/corogo/corogo/totem"

// Machine is the part of *totem.Node the cluster drives. Tests of the
// harness itself substitute fakes; everything else uses totem.NewNode.
type Machine interface {
	Start()
	Step(datagram []byte) error
	Tick()
	NextTimer() (ticks int64, ok bool)
	Send(msg []byte, g totem.Guarantee) error
	Leave()
	HasReady() bool
	Ready() *totem.Ready
	Advance()
	Status() totem.Status
	Stats() totem.Stats
}

// NewMachineFunc builds a machine, as totem.NewNode does.
type NewMachineFunc func(cfg totem.Config, ps totem.PersistentState) (Machine, error)

// NewNode is the NewMachineFunc of the real core.
func NewNode(cfg totem.Config, ps totem.PersistentState) (Machine, error) {
	n, err := totem.NewNode(cfg, ps)
	if err != nil {
		return nil, err
	}
	return n, nil
}

var _ Machine = (*totem.Node)(nil)
