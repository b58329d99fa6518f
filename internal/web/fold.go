package web

import (
	"errors"
	"html/template"
	"io"
	"reflect"
	"strings"
	"text/template/parse"
)

// Pages are rendered per language from templates where most actions are
// constant for that language: {{t "web.field.name"}}, {{icon "bell"}}.
// Each costs a reflective call and an escaper per render, which made the
// profile page's rendering most of its cost. foldConstants replaces such
// actions with the text they always print, once, when the templates are
// parsed.

// foldTemplates turns folding on; tests turn it off to compare.
var foldTemplates = true

// foldable are the template functions whose result depends only on their
// literal arguments and the page set's language.
var foldable = map[string]bool{"t": true, "icon": true, "pluralForms": true, "categoryIconsJSON": true}

// textEscapers are html/template's escapers that print a plain string
// HTML-escaped (text, quoted attribute values, RCDATA such as <title>);
// an action folds only when its escapers are among them, so a string
// landing in a URL, a script or a style is left to html/template.
var textEscapers = map[string]bool{
	"_html_template_htmlescaper":   true,
	"_html_template_attrescaper":   true,
	"_html_template_rcdataescaper": true,
}

// htmlEscaper is html/template's escaping of plain strings for the
// contexts of textEscapers (the same table, so folded pages are byte for
// byte what the escaper would print).
var htmlEscaper = strings.NewReplacer("\x00", "\uFFFD", `"`, "&#34;", "&", "&amp;", "'", "&#39;", "+", "&#43;", "<", "&lt;", ">", "&gt;")

// foldConstants escapes root's template set (html/template does so on the
// first Execute; the data given has no fields, so the run itself stops at
// its first field: nil data would run the whole page on zero values,
// calling its functions with nil, and "tn" would log a bad count at start)
// and then replaces each foldable action with its output. It returns the
// number of actions folded.
func foldConstants(root *template.Template, funcs template.FuncMap) (int, error) {
	if err := root.Execute(io.Discard, struct{}{}); err != nil {
		var escape *template.Error
		if errors.As(err, &escape) {
			return 0, err
		}
	}
	folded := 0
	for _, t := range root.Templates() {
		if t.Tree != nil && t.Tree.Root != nil {
			folded += foldList(t.Tree.Root, funcs)
		}
	}
	return folded, nil
}

func foldList(l *parse.ListNode, funcs template.FuncMap) int {
	if l == nil {
		return 0
	}
	folded := 0
	nodes := l.Nodes[:0]
	for _, n := range l.Nodes {
		switch n := n.(type) {
		case *parse.ActionNode:
			if text, ok := constantOutput(n, funcs); ok {
				folded++
				if last := len(nodes) - 1; last >= 0 {
					if prev, isText := nodes[last].(*parse.TextNode); isText {
						prev.Text = append(prev.Text[:len(prev.Text):len(prev.Text)], text...)
						continue
					}
				}
				nodes = append(nodes, &parse.TextNode{NodeType: parse.NodeText, Pos: n.Pos, Text: []byte(text)})
				continue
			}
		case *parse.TextNode:
			if last := len(nodes) - 1; last >= 0 {
				if prev, isText := nodes[last].(*parse.TextNode); isText {
					prev.Text = append(prev.Text[:len(prev.Text):len(prev.Text)], n.Text...)
					continue
				}
			}
		case *parse.IfNode:
			folded += foldList(n.List, funcs) + foldList(n.ElseList, funcs)
		case *parse.RangeNode:
			folded += foldList(n.List, funcs) + foldList(n.ElseList, funcs)
		case *parse.WithNode:
			folded += foldList(n.List, funcs) + foldList(n.ElseList, funcs)
		}
		nodes = append(nodes, n)
	}
	clear(l.Nodes[len(nodes):])
	l.Nodes = nodes
	return folded
}

// constantOutput is what an escaped action like {{t "key" | escaper}}
// always prints, when it is one call of a foldable function on at most one
// string literal, followed only by text escapers.
func constantOutput(a *parse.ActionNode, funcs template.FuncMap) (string, bool) {
	p := a.Pipe
	if p == nil || len(p.Decl) > 0 || len(p.Cmds) < 2 {
		return "", false
	}
	call := p.Cmds[0].Args
	if len(call) > 2 {
		return "", false
	}
	name, ok := call[0].(*parse.IdentifierNode)
	if !ok || !foldable[name.Ident] {
		return "", false
	}
	var args []reflect.Value
	if len(call) == 2 {
		arg, ok := call[1].(*parse.StringNode)
		if !ok {
			return "", false
		}
		args = append(args, reflect.ValueOf(arg.Text))
	}
	var escapers []string
	for _, c := range p.Cmds[1:] {
		id, ok := c.Args[0].(*parse.IdentifierNode)
		if len(c.Args) != 1 || !ok || !textEscapers[id.Ident] {
			return "", false
		}
		escapers = append(escapers, id.Ident)
	}
	fn := reflect.ValueOf(funcs[name.Ident])
	if fn.Kind() != reflect.Func {
		return "", false
	}
	ft := fn.Type()
	fixed := ft.NumIn()
	if ft.IsVariadic() {
		fixed--
	}
	if fixed != len(args) || (len(args) == 1 && ft.In(0).Kind() != reflect.String) {
		return "", false
	}
	if len(args) == 1 {
		args[0] = args[0].Convert(ft.In(0))
	}
	out := fn.Call(args)
	if len(out) == 2 && !out[1].IsNil() {
		return "", false // an error: left for the render to report
	}
	switch v := out[0].Interface().(type) {
	case template.HTML:
		// Trusted HTML passes the text escaper unchanged; the others
		// would strip its tags, so those are left to html/template.
		if len(escapers) == 1 && escapers[0] == "_html_template_htmlescaper" {
			return string(v), true
		}
	case string:
		return htmlEscaper.Replace(v), true
	}
	return "", false
}
