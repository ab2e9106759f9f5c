from oncall_tui.cli.main import run

run()
