# bash completion for shoal: commands, flags and their fixed values, .wasm
# modules, files for inputs, and job ids when a broker is running.
#
# Use it with:  source tools/shoal-completion.bash
# or install it as /usr/share/bash-completion/completions/shoal.
#
# Job ids come from `shoal job list`, but only when the state directory's
# broker socket exists: completing never starts a broker.

_shoal_job_ids() {
  local state
  if [[ -n ${SHOAL_HOME:-} ]]; then
    state=$SHOAL_HOME
  elif [[ -n ${XDG_STATE_HOME:-} ]]; then
    state=$XDG_STATE_HOME/shoal
  else
    state=$HOME/.local/state/shoal
  fi
  [[ -S $state/run/broker.sock ]] || return 0
  "${1:-shoal}" job list --limit 0 --output csv --hide-header 2>/dev/null | cut -d, -f2
}

_shoal() {
  local cur=${COMP_WORDS[COMP_CWORD]}
  local prev=${COMP_WORDS[COMP_CWORD - 1]}
  local shoal=${COMP_WORDS[0]}
  COMPREPLY=()

  # --flag=VALUE: bash splits at '=', so the flag is two words back.
  if [[ $prev == "=" ]]; then
    prev=${COMP_WORDS[COMP_CWORD - 2]}
  elif [[ $cur == "=" ]]; then
    cur=""
  fi

  # The command path: the words before the cursor that are not flags.
  local cmd="" i w
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=${COMP_WORDS[i]}
    case "$cmd" in
      "") [[ $w == @(exec|wasm|job|serve|shutdown|keys|worker) ]] && cmd=$w ;;
      keys) [[ $w == @(generate|add-client|add-worker|list|remove) ]] && cmd="keys $w" ;;
      wasm) [[ $w == run ]] && cmd="wasm run" ;;
      job)
        [[ $w == @(list|logs|describe|get|stop|delete|prune|executions|history|wait) ||
          $w == @(run|validate) ]] && cmd="job $w"
        ;;
    esac
  done

  local flags=""
  case "$cmd" in
    "") flags="--help --version --connect --server-key" ;;
    exec) flags="--dir -e --env --entry-point --timeout --memory --stdout-limit --stderr-limit
                 --max-fds --help" ;;
    "wasm run") flags="-e --env -i --input -o --output --entry-point --timeout --memory --name
                       -l --labels --stdin -I --import-modules --wait --no-wait
                       --wait-timeout-secs --id-only -f --follow --dry-run --constraints --help" ;;
    "job run") flags="--wait --no-wait --wait-timeout-secs --id-only -f --follow --dry-run
                      --help" ;;
    "job list") flags="--id-filter --limit --order-by --order-reversed -l --labels --output
                       --hide-header --wide --no-style --help" ;;
    "job logs") flags="-f --follow -t --tail --stream --help" ;;
    "job describe" | "job executions" | "job history") flags="--output --help" ;;
    "job get") flags="--output-dir --help" ;;
    "job prune") flags="--older-than --help" ;;
    serve) flags="--state-dir --workers --idle-exit --max-attempts --module-memory --quiet --log-level --listen
                  --listen-workers --label --help" ;;
    worker) flags="--connect --server-key --slots --label --state-dir --help" ;;
    "keys add-client" | "keys add-worker") flags="--name --help" ;;
    *) flags="--help" ;;
  esac

  # Values of the flags that take one.
  case "$cmd:$prev" in
    "job list:--output" | "job executions:--output" | "job history:--output")
      COMPREPLY=($(compgen -W "table csv json yaml" -- "$cur"))
      return
      ;;
    "job describe:--output")
      COMPREPLY=($(compgen -W "human json yaml" -- "$cur"))
      return
      ;;
    "job logs:--stream")
      COMPREPLY=($(compgen -W "stdout stderr all" -- "$cur"))
      return
      ;;
    "job list:--order-by")
      COMPREPLY=($(compgen -W "created_at id" -- "$cur"))
      return
      ;;
    "wasm run:--wait" | "job run:--wait")
      COMPREPLY=($(compgen -W "true false" -- "$cur"))
      return
      ;;
    "wasm run:-i" | "wasm run:--input" | "wasm run:--stdin" | "exec:--dir")
      COMPREPLY=($(compgen -f -- "$cur"))
      compopt -o filenames 2>/dev/null
      return
      ;;
    "wasm run:-I" | "wasm run:--import-modules")
      COMPREPLY=($(compgen -d -- "$cur") $(compgen -f -X '!*.wasm' -- "$cur"))
      compopt -o filenames 2>/dev/null
      return
      ;;
    "job get:--output-dir" | "serve:--state-dir" | "worker:--state-dir")
      COMPREPLY=($(compgen -d -- "$cur"))
      compopt -o filenames 2>/dev/null
      return
      ;;
    *:-e | *:--env | *:-o | *:--output | *:--entry-point | *:--timeout | *:--memory | \
      *:--name | *:-l | *:--labels | *:--wait-timeout-secs | *:--id-filter | *:--limit | \
      *:-t | *:--tail | *:--older-than | *:--workers | *:--idle-exit | *:--max-attempts | \
      *:--stdout-limit | *:--stderr-limit | *:--max-fds | *:--constraints | *:--connect | \
      *:--server-key | *:--listen | *:--listen-workers | *:--label | *:--slots | *:--module-memory)
      return  # a free-form value
      ;;
  esac

  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$flags" -- "$cur"))
    return
  fi
  case "$cmd" in
    "") COMPREPLY=($(compgen -W "exec wasm job serve shutdown keys worker" -- "$cur")) ;;
    keys) COMPREPLY=($(compgen -W "generate add-client add-worker list remove" -- "$cur")) ;;
    wasm) COMPREPLY=($(compgen -W "run" -- "$cur")) ;;
    job)
      COMPREPLY=($(compgen -W "list logs describe get stop delete prune executions history wait
        run validate" -- "$cur"))
      ;;
    "job run" | "job validate")
      # The job spec: a YAML or JSON file.
      COMPREPLY=($(compgen -d -- "$cur") $(compgen -f -X '!*.yaml' -- "$cur")
        $(compgen -f -X '!*.yml' -- "$cur") $(compgen -f -X '!*.json' -- "$cur"))
      compopt -o filenames 2>/dev/null
      ;;
    "wasm run" | exec)
      # The module, then the program's own arguments: files either way.
      COMPREPLY=($(compgen -d -- "$cur") $(compgen -f -X '!*.wasm' -- "$cur"))
      compopt -o filenames 2>/dev/null
      ;;
    "job logs" | "job describe" | "job get" | "job stop" | "job delete" | "job executions" | \
      "job history" | "job wait")
      COMPREPLY=($(compgen -W "$(_shoal_job_ids "$shoal")" -- "$cur"))
      ;;
  esac
}

complete -F _shoal shoal
