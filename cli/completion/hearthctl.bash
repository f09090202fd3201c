# bash completion for hearthctl, the admin CLI of hearthd.
# Installed to share/bash-completion/completions/hearthctl; cli_test checks that it knows every
# command and option. Model names come from the daemon (`hearthctl models list`) when it answers.

_hearthctl_models() {
    # The daemon's model names, asked with the --url / --config already on the line.
    local -a conn=()
    local i
    for ((i = 1; i < ${#COMP_WORDS[@]} - 1; i++)); do
        case ${COMP_WORDS[i]} in
            --url|--config) conn+=("${COMP_WORDS[i]}" "${COMP_WORDS[i+1]}") ;;
        esac
    done
    hearthctl "${conn[@]}" models list 2>/dev/null | awk 'NR > 1 { print $1 }'
}

_hearthctl() {
    local cur prev
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    local globals="--url --config --json --version --help"

    case $prev in
        --url|--api-url) return ;;
        --config) COMPREPLY=($(compgen -f -- "$cur")); return ;;
        --state) COMPREPLY=($(compgen -W "queued running finished cancelled failed" -- "$cur")); return ;;
        --limit|--after|--grace|--max-tokens|--temperature|--api-key) return ;;
    esac

    # The command and its subcommand: the first words that are not options or their values.
    local cmd="" sub="" i w
    local -a args=()
    for ((i = 1; i < COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        case $w in
            --url|--config|--state|--limit|--after|--grace|--max-tokens|--temperature|--api-url|--api-key)
                ((i++)); continue ;;
            -*) continue ;;
        esac
        if [[ -z $cmd ]]; then
            cmd=$w
        elif [[ -z $sub && ( $cmd == models || $cmd == requests || $cmd == cluster ) ]]; then
            sub=$w
        else
            args+=("$w")
        fi
    done

    local words opts=""
    case $cmd in
        "")
            words="status workers cluster models requests drain reload preempt metrics run" ;;
        cluster)
            [[ -z $sub ]] && words="list targets" ;;
        models)
            case $sub in
                "") words="list add remove load unload stage pin unpin history" ;;
                add) opts="--pin"; [[ ${#args[@]} -eq 1 ]] && { COMPREPLY=($(compgen -f -- "$cur")); return; } ;;
                load)
                    if [[ ${#args[@]} -eq 0 ]]; then words=$(_hearthctl_models)
                    else COMPREPLY=($(compgen -f -- "$cur")); return; fi ;;
                remove|unload|stage) opts="--force"; [[ ${#args[@]} -eq 0 ]] && words=$(_hearthctl_models) ;;
                pin|unpin) [[ ${#args[@]} -eq 0 ]] && words=$(_hearthctl_models) ;;
                history) opts="--limit"; [[ ${#args[@]} -eq 0 ]] && words=$(_hearthctl_models) ;;
            esac ;;
        requests)
            case $sub in
                "") words="list show cancel follow"; opts="--state --limit" ;;
                list) opts="--state --limit" ;;
                follow) opts="--after" ;;
            esac ;;
        drain) opts="--resume" ;;
        preempt) opts="--grace" ;;
        run)
            opts="--max-tokens --temperature --api-url --api-key"
            [[ ${#args[@]} -eq 0 ]] && words=$(_hearthctl_models) ;;
    esac

    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$opts $globals" -- "$cur"))
    else
        COMPREPLY=($(compgen -W "$words" -- "$cur"))
    fi
}

complete -F _hearthctl hearthctl
