"""netviz"""
PICTURES = ("report.pdf", "report.png")
