"""separation"""
