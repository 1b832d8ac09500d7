package risk

// Guidance is what the district tells an arrival at one risk level: the
// full text shown on the page, and the short action that goes into the
// registered SMS template.
type Guidance struct {
	Level  Level  `json:"level"`
	Text   string `json:"text"`
	Action string `json:"smsAction"`
}

// DefaultGuidance is the district's starting rules table, editable through
// PUT /v1/guidance. The texts follow the December 2022 measures.
func DefaultGuidance() []Guidance {
	return []Guidance{
		{Level: None, Text: "欢迎您来(返)江门蓬江!请于抵达后24小时内完成1次核酸检测,做好个人防护。稍后将有社区工作人员与您联系。", Action: "抵达24小时内做1次核酸"},
		{Level: Low, Text: "您近7天到过低风险区。请于抵达后24小时内完成1次核酸检测,做好个人健康监测。稍后将有社区工作人员与您联系。", Action: "抵达24小时内做1次核酸"},
		{Level: Medium, Text: "您近7天到过中风险区。请抵达后三天两检,做好健康监测,减少聚集。稍后将有社区工作人员与您联系。", Action: "三天两检并做好健康监测"},
		{Level: High, Text: "您近7天到过高风险区。请主动向社区报告,落实三天三检和居家健康监测,期间不外出。社区工作人员将尽快与您联系。", Action: "三天三检并居家健康监测"},
	}
}

// Rules indexes guidance by level.
type Rules map[Level]Guidance

// NewRules indexes a guidance table.
func NewRules(table []Guidance) Rules {
	r := make(Rules, len(table))
	for _, g := range table {
		r[g.Level] = g
	}
	return r
}

// For returns the guidance of level, falling back to the default table so
// that a partly edited table never leaves an arrival without instructions.
func (r Rules) For(level Level) Guidance {
	if g, ok := r[level]; ok {
		return g
	}
	return NewRules(DefaultGuidance())[level]
}

// Table lists the rules in level order.
func (r Rules) Table() []Guidance {
	out := make([]Guidance, 0, len(Levels))
	for _, l := range Levels {
		out = append(out, r.For(l))
	}
	return out
}
