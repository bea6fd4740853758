from cell.cli import app

app(prog_name="cell")
