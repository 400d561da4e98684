package ignore

func directives() {
	//rampart:ignore sqlinjection the column name comes from a fixed list
	//rampart:ignore rampart.lint.go.ssrf the host is checked by the caller
	//rampart:ignore sqlinjection // want `//rampart:ignore sqlinjection has no reason`
	//rampart:ignore nosuchrule because // want `names unknown rule "nosuchrule"`
	//rampart:ignore // want `names no rule`
	//rampart:ignored is another word, not a directive
}
