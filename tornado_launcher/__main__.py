from tornado_launcher.cli import main

raise SystemExit(main())
