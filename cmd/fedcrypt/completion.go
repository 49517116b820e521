package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
)

// completionTree is what a shell completes: the words after "fedcrypt"
// (commands and groups), each group's subcommands, and each command's flags.
type completionTree struct {
	top   []string
	subs  map[string][]string // group → subcommands
	flags map[string][]string // command name → "-o", "--out", ...
}

func newCompletionTree(table []*command) completionTree {
	t := completionTree{subs: map[string][]string{}, flags: map[string][]string{}}
	for _, c := range table {
		group, sub, grouped := strings.Cut(c.name, " ")
		if !grouped {
			t.top = append(t.top, c.name)
		} else {
			if _, seen := t.subs[group]; !seen {
				t.top = append(t.top, group)
			}
			t.subs[group] = append(t.subs[group], sub)
		}
		var names []string
		c.flags().VisitAll(func(f *flag.Flag) {
			if len(f.Name) == 1 {
				names = append(names, "-"+f.Name)
			} else {
				names = append(names, "--"+f.Name)
			}
		})
		t.flags[c.name] = names
	}
	return t
}

func runCompletion(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("completion: want one shell, bash or zsh")
	}
	t := newCompletionTree(commandTable())
	switch pos[0] {
	case "bash":
		t.bash(e.stdout)
	case "zsh":
		t.zsh(e.stdout)
	default:
		return usagef("completion: unknown shell %q (want bash or zsh)", pos[0])
	}
	return nil
}

// cases writes one shell case arm per command, setting the flags it takes;
// a group's arm sets its subcommands instead when the word completed is
// the subcommand (atSub), or else cases on it. word(i) is the shell
// expression of the i-th word after "fedcrypt"; assign(v, words) sets the
// shell variable v to words.
func (t completionTree) cases(w io.Writer, word func(i int) string, assign func(v string, words []string) string, atSub string) {
	indent := "\t"
	done := map[string]bool{}
	for _, top := range t.top {
		if done[top] {
			continue
		}
		done[top] = true
		subs, grouped := t.subs[top]
		if !grouped {
			fmt.Fprintf(w, "%s%s) %s;;\n", indent, top, assign("flags", t.flags[top]))
			continue
		}
		fmt.Fprintf(w, "%s%s)\n%s\tif %s; then %s\n%s\telse case %s in\n", indent, top, indent, atSub, assign("subs", subs), indent, word(2))
		for _, sub := range subs {
			fmt.Fprintf(w, "%s\t\t%s) %s;;\n", indent, sub, assign("flags", t.flags[top+" "+sub]))
		}
		fmt.Fprintf(w, "%s\tesac; fi;;\n", indent)
	}
}

func (t completionTree) bash(w io.Writer) {
	fmt.Fprint(w, `# bash completion for fedcrypt (fedcrypt completion bash)
_fedcrypt() {
	local cur="${COMP_WORDS[COMP_CWORD]}" flags="" subs=""
	COMPREPLY=()
	if [[ $COMP_CWORD -eq 1 ]]; then
		COMPREPLY=($(compgen -W "`+strings.Join(t.top, " ")+`" -- "$cur"))
		return
	fi
	case "${COMP_WORDS[1]}" in
`)
	t.cases(w, func(i int) string { return fmt.Sprintf(`"${COMP_WORDS[%d]}"`, i) },
		func(v string, words []string) string { return v + `="` + strings.Join(words, " ") + `"` }, "[[ $COMP_CWORD -eq 2 ]]")
	fmt.Fprint(w, `	esac
	if [[ -n $subs ]]; then
		COMPREPLY=($(compgen -W "$subs" -- "$cur"))
	elif [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$flags" -- "$cur"))
	fi
}
complete -o default -F _fedcrypt fedcrypt
`)
}

func (t completionTree) zsh(w io.Writer) {
	fmt.Fprint(w, `#compdef fedcrypt
# zsh completion for fedcrypt (fedcrypt completion zsh)
_fedcrypt() {
	local -a flags subs
	if (( CURRENT == 2 )); then
		subs=(`+strings.Join(t.top, " ")+`)
		compadd -a subs
		return
	fi
	case $words[2] in
`)
	t.cases(w, func(i int) string { return fmt.Sprintf("$words[%d]", i+1) },
		func(v string, words []string) string { return v + "=(" + strings.Join(words, " ") + ")" }, "(( CURRENT == 3 ))")
	fmt.Fprint(w, `	esac
	if (( ${#subs} )); then
		compadd -a subs
	elif [[ $PREFIX == -* ]]; then
		compadd -a flags
	else
		_files
	fi
}
compdef _fedcrypt fedcrypt
`)
}
