from welfare.cli import main

raise SystemExit(main())
