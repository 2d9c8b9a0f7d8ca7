"""The product speaks Chinese by default; English is the user's choice."""
from app import create_app
from config import DevelopmentConfig, ProductionConfig


def test_default_language_is_chinese_outside_tests():
    assert DevelopmentConfig.BABEL_DEFAULT_LOCALE == "zh_CN"
    assert ProductionConfig.BABEL_DEFAULT_LOCALE == "zh_CN"


def test_login_page_is_chinese_by_default(tmp_path):
    config = type("Dev", (DevelopmentConfig,), {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db"})
    app = create_app(config)
    html = app.test_client().get("/login").get_data(as_text=True)
    assert 'lang="zh-CN"' in html
    assert "登录" in html and "Sign in" not in html
