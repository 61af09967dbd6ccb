//go:build !race

package fieldrules

const raceEnabled = false
