package findings

import (
	"cmp"
	"slices"
)

// SortStable sorts fs by compare, keeping the order of findings that
// compare equal, as slices.SortStableFunc does. It sorts indices and then
// moves each finding once, so a report of a hundred thousand findings is
// sorted without the rotations of an in-place stable sort, which move
// the (large) Finding values many times.
func SortStable(fs []Finding, compare func(a, b *Finding) int) {
	if len(fs) < 2 {
		return
	}
	idx := make([]int, len(fs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		return cmp.Or(compare(&fs[a], &fs[b]), cmp.Compare(a, b))
	})
	permute(fs, idx)
}

// permute rearranges fs so that fs[i] becomes the old fs[idx[i]], in
// place, following each cycle of the permutation once; idx ends as the
// identity.
func permute(fs []Finding, idx []int) {
	for i := range idx {
		if idx[i] == i {
			continue
		}
		tmp := fs[i]
		j := i
		for {
			k := idx[j]
			idx[j] = j
			if k == i {
				fs[j] = tmp
				break
			}
			fs[j] = fs[k]
			j = k
		}
	}
}
